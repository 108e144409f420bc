"""Built-in survey codebooks (YAML) and the developer tool that generates the WVS-7 one."""
