// The phone screen (to be built).
