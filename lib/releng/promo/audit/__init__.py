"""The auditor: judges every change to production against the promoter manifests at the branch head."""
