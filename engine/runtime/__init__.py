"""Running a case: what commands share, advancing a workflow and writing its state, the observers kept in step."""
