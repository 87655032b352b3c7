"""Close rules (extensions §4): scheduled, audited closes of the sessions a selector matches on one instance."""
