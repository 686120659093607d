package contactsync

// AccountClaim is accountClaim, for the tests of package contactsync_test
// that hold a company's claim as another worker would.
var AccountClaim = accountClaim
