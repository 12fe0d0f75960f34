"""Support tickets and their status workflow."""
