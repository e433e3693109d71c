"""The HTTP API (Flask, flask-smorest); it calls the services in auditor.services."""
