"""The pages, report template and static files; installed as the package `creditbot_templates`."""
