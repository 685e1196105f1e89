package httpserve

// The pace, for tests.
const (
	PaceBurst = paceBurst
	PaceEvery = paceEvery
	PaceAbove = paceAbove
)
