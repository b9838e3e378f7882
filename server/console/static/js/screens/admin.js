// The admin screen (to be built).
