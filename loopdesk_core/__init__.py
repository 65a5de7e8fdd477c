"""What every package of ours may use and which needs none of them: the one settings object
(`settings`), the one clock (`clock`), the data home's permissions (`home`) and business-day
and opening-hours arithmetic (`business_hours`). Pure standard library plus pydantic; importing
it never pulls in the console, the warehouse or the pipelines.

May import: nothing of ours.
"""
