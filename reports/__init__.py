"""Reports: the Meeting's figures, the meeting pack, the assessment PDF and charts.

Built from what the services return (already scoped and disclosed), never from tables.
"""
