"""The pure core: types and rules. Nothing here does I/O or imports a framework."""
