"""The tamper-evident ledger: canonical entries, an RFC 9162 Merkle tree with inclusion and consistency proofs,
and checkpoints as C2SP signed notes (Ed25519) that witnesses can cosign.

``merkle`` and ``note`` are pure (hashing, proofs, formats, signatures); storage lives in ``envtrust.store``.
"""
