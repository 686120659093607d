package event

import "testing"

// TestTypeKinds pins what each inbound type is: a contact or an email
// event, the queue it travels on, whether it names a sequence, and the
// type of the outcomes it gets.
func TestTypeKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ         Type
		contact     bool
		queue       string
		hasSequence bool
		outcome     OutcomeType
	}{
		{ContactCreated, true, ContactQueue, false, DedupOutcome},
		{ContactAdded, true, ContactQueue, true, ContactOutcome},
		{ContactReplied, true, ContactQueue, true, ContactOutcome},
		{ContactUnsubscribed, true, ContactQueue, false, ContactOutcome},
		{EmailSent, false, ActivityQueue, true, ActivityOutcome},
		{EmailReplied, false, ActivityQueue, true, ActivityOutcome},
		{EmailOpened, false, ActivityQueue, true, ActivityOutcome},
		{EmailClicked, false, ActivityQueue, true, ActivityOutcome},
		{EmailBounced, false, ActivityQueue, true, ActivityOutcome},
	}
	if got, want := len(tests), len(Types); got != want {
		t.Errorf("types in the table: got %v; want %v (one per Types)", got, want)
	}
	for i, tt := range tests {
		if i < len(Types) && Types[i] != tt.typ {
			t.Errorf("Types[%d]: got %v; want %v", i, Types[i], tt.typ)
		}
		if got, want := [3]bool{tt.typ.Known(), tt.typ.IsContact(), tt.typ.IsEmail()}, [3]bool{true, tt.contact, !tt.contact}; got != want {
			t.Errorf("%s Known, IsContact, IsEmail: got %v; want %v", tt.typ, got, want)
		}
		if got, want := tt.typ.Queue(), tt.queue; got != want {
			t.Errorf("%s Queue: got %v; want %v", tt.typ, got, want)
		}
		if got, want := tt.typ.HasSequence(), tt.hasSequence; got != want {
			t.Errorf("%s HasSequence: got %v; want %v", tt.typ, got, want)
		}
		if got, want := (Event{Type: tt.typ}).OutcomeType(), tt.outcome; got != want {
			t.Errorf("%s OutcomeType: got %v; want %v", tt.typ, got, want)
		}
	}
	for _, typ := range []Type{"contact.deleted", "", "CONTACT.UNSUBSCRIBED"} {
		if typ.Known() || typ.IsContact() || typ.IsEmail() || typ.HasSequence() || typ.Queue() != "" {
			t.Errorf("%q: got known, contact, email, sequence or a queue; want none", typ)
		}
	}
}
