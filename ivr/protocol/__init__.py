"""The survey protocol, numpy only: probe setups, evaluation splits, eligibility, demonstration sampling,
training units, evaluation conventions, catalog opening and row selection (``resolve.resolve_protocol`` is the
one function that decides a survey's protocol). The Lightning pipeline that turns it into batches is ``ivr.data``.
"""
