"""The installable app: manifest, service worker, share target and web push."""
