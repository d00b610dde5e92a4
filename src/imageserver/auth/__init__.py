"""Users, password hashing, JWT issue/verify and the `current_user` dependency."""
