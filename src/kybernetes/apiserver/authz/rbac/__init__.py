"""Role-based access control: rules, the bindings that grant them, escalation checks."""
