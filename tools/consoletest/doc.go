// Package consoletest holds the admin console's browser tests: the whole
// local stack (moto, the Salesforce simulator, the real function binaries
// behind the local runner) driven through the console in headless
// Chromium, as an admin and as a member, with its Content Security Policy
// checked in the browser. Each test saves screenshots of the pages it
// visits under .local/artifacts/console/ at the repository's root.
package consoletest
