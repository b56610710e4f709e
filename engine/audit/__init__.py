"""The audit log read: searching it, logging who viewed what, verifying the hash chains."""
