"""Validation: findings (what was wrong, what was done about it) and the
checks that produce them."""
