"""Process versions: a BPMN file and its forms validated, stored and parsed once per version."""
