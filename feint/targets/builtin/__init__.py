"""feint's built-in targets."""
