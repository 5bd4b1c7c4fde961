"""Fake message providers for tests: local HTTP servers that answer as the WhatsApp Cloud API,
WAHA, Fonnte, Wablas and an SMS gateway do (`whatsapp_cloud`, `waha`, `gateway`, built on
`server`), an SMTP server (`smtp`), and builders for the webhooks each provider posts."""
