"""The reasoner: choice-scoring head (``heads``), LightningModule (``module``), FSDP2 wrapping
(``sharding``), strategy rule (``strategy``), LoRA/QLoRA building (``build``) and HF export (``export``).

Import the submodules directly (``from ivr.model.module import IndieValueReasoner``); this package
imports nothing heavy on its own.
"""
