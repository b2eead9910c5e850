"""Live availability: counts, the Server-Sent Events stream and the seat map page."""
