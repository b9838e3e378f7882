// The intake screen (to be built).
