# Policy rows, sign-offs and findings arrive with the approval matrix issue (#6).
