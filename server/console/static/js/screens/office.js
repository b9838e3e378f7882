// The office screen (to be built).
