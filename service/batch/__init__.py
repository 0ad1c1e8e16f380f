"""Offline batch prediction: `python -m service.batch --model NAME --input PATH... --output FILE`."""
