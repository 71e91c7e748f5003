"""The policy's workflows on top of the store and the ledger (DESIGN.md §4): identity and permissions first."""
