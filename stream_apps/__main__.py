"""`python -m stream_apps worker`: a Faust worker with every agent."""

from stream_apps.app import app

app.main()
