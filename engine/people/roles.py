"""The roles a user may hold (engine/people/users.py manages who holds which; access.py says what each may do)."""
from __future__ import annotations

CASEWORKER = "caseworker"
PROFESSIONAL_LEAD = "professional_lead"
PROCESS_DESIGNER = "process_designer"
MANAGER = "manager"
ADMINISTRATOR = "administrator"
DATA_PROTECTION_OFFICER = "data_protection_officer"  # answers people's requests about their data (docs/operations.md)
ROLES = (CASEWORKER, PROFESSIONAL_LEAD, PROCESS_DESIGNER, MANAGER, ADMINISTRATOR, DATA_PROTECTION_OFFICER)
