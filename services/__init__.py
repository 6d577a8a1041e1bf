"""Services: access, disclosure, the read service and the write services.

Each function takes the person (a ``Viewer`` or an ``Audience``) and returns what that
person may see or do; tables and queries live in ``store``.
"""
