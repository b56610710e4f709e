"""What people do with cases: start, inbox, open, draft, claim, complete, correct; clients and caseloads."""
