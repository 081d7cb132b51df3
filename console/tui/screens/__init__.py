"""One module per screen: fleet, model, alerts, approvals (+ sign-off), audit, query, and the
help / jump / window / confirmation dialogs."""
