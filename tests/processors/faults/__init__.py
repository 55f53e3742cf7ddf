"""Patches that a processor worker imports before it starts (harness.Worker(fault=...)), each
widening one race window that is otherwise hit only now and then; each module says which race."""
