"""Stream processors: pure engines (engines/) inside thin Faust shells (agents/)."""
