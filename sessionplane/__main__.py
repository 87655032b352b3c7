from sessionplane.cli.main import app

app()
