"""Local emulators of the commercetools and Fluent APIs (the sandbox). Product code never imports this."""
