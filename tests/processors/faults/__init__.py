"""Patches a processor worker imports before it starts (harness.Worker(fault=...)) to widen a race
window that is otherwise hit only now and then; each says which race."""
