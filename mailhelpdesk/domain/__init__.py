"""Plain domain types: no ORM, no I/O."""
