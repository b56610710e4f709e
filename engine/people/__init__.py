"""Users, roles, passwords, logins and their sessions, and who may do what."""
