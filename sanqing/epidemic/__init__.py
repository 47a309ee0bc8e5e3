"""The epidemic plan (疫情防控预案): its configuration so far; its steps are still to come."""
