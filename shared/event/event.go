// Package event is the contract between the sequencer and this service: the
// inbound events it posts to the contact and activity queues, and the outcome
// messages this service posts back on the results queue.
//
// The JSON Schemas under events/schema at the repository root describe the same
// contract; Decode enforces the same rules in plain Go so the function binaries
// carry no schema engine. The package's tests hold the two to each other.
package event

import "time"

// Version is the only envelope version this code reads and writes.
const Version = 1

// MaxBodyBytes is the largest message body accepted: the classic SQS message
// size limit, which every producer can rely on.
const MaxBodyBytes = 262144

// Type names an inbound event.
type Type string

// The inbound event types.
const (
	ContactCreated Type = "contact.created" // a contact exists; no sequence yet (dedup warning only)
	ContactAdded   Type = "contact.added"   // a contact was put in a sequence
	ContactReplied Type = "contact.replied" // a contact replied within a sequence
	// ContactUnsubscribed: the contact opted out of email. It names no
	// sequence; data.reason may say how the contact opted out.
	ContactUnsubscribed Type = "contact.unsubscribed"
	EmailSent           Type = "email.sent"
	EmailReplied        Type = "email.replied"
	EmailOpened         Type = "email.opened"
	EmailClicked        Type = "email.clicked"
	EmailBounced        Type = "email.bounced"
)

// Types lists every inbound event type, contact events first.
var Types = []Type{ContactCreated, ContactAdded, ContactReplied, ContactUnsubscribed, EmailSent, EmailReplied, EmailOpened, EmailClicked, EmailBounced}

// Queue names (resources.Queue.Name) the two kinds of inbound event travel on.
const (
	ContactQueue  = "contact-events"
	ActivityQueue = "activity-events"
)

// Known reports whether t is one of Types.
func (t Type) Known() bool { return t.IsContact() || t.IsEmail() }

// IsContact reports whether t is a contact event (contact.*).
func (t Type) IsContact() bool {
	switch t {
	case ContactCreated, ContactAdded, ContactReplied, ContactUnsubscribed:
		return true
	}
	return false
}

// HasSequence reports whether events of type t name a sequence
// (data.sequence): every known type but contact.created and
// contact.unsubscribed, which are about the contact alone.
func (t Type) HasSequence() bool {
	return t.Known() && t != ContactCreated && t != ContactUnsubscribed
}

// IsEmail reports whether t is an email activity event (email.*).
func (t Type) IsEmail() bool {
	switch t {
	case EmailSent, EmailReplied, EmailOpened, EmailClicked, EmailBounced:
		return true
	}
	return false
}

// Queue is the name of the queue events of this type travel on: ContactQueue
// for contact events, ActivityQueue for email events, "" for an unknown type.
func (t Type) Queue() string {
	switch {
	case t.IsContact():
		return ContactQueue
	case t.IsEmail():
		return ActivityQueue
	}
	return ""
}

// Event is one decoded, valid inbound event. Data is a ContactData for contact
// events and an EmailData for email events.
type Event struct {
	ID         string    `json:"id"` // unique per event; the idempotency key
	Type       Type      `json:"type"`
	Version    int       `json:"version"`
	OccurredAt time.Time `json:"occurred_at"` // UTC
	TeamID     string    `json:"team_id"`
	Data       Data      `json:"data"`
}

// Queue is the name of the queue the event travels on.
func (e Event) Queue() string { return e.Type.Queue() }

// Data is the type-specific part of an event: ContactData or EmailData.
type Data interface{ isData() }

// ContactData is the data of the contact events: contact.created,
// contact.added, contact.replied and contact.unsubscribed. Sequence is nil
// exactly for contact.created and contact.unsubscribed (Type.HasSequence).
// User, the rep, is optional on every contact event but contact.created,
// where it is never set. Reason, how the contact opted out, is set only on
// contact.unsubscribed, and there only when the event gives one.
type ContactData struct {
	Sequence *Sequence `json:"sequence,omitempty"`
	Contact  Contact   `json:"contact"`
	User     *User     `json:"user,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// EmailData is the data of the email.* events. User, the rep who sent the
// email, is optional.
type EmailData struct {
	Sequence Sequence   `json:"sequence"`
	Contact  ContactRef `json:"contact"`
	Message  Message    `json:"message"`
	User     *User      `json:"user,omitempty"`
}

func (ContactData) isData() {}
func (EmailData) isData()   {}

// Sequence identifies the sequence an event happened in.
type Sequence struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Contact is the sequencer's contact as a contact event carries it. Email keeps
// the case it was sent with; matching against Salesforce is case-insensitive.
type Contact struct {
	ID          string            `json:"id"`
	Email       string            `json:"email"`
	FirstName   string            `json:"first_name,omitempty"`
	LastName    string            `json:"last_name,omitempty"`
	Company     string            `json:"company,omitempty"`
	Title       string            `json:"title,omitempty"`
	Phone       string            `json:"phone,omitempty"`
	Website     string            `json:"website,omitempty"`
	LinkedInURL string            `json:"linkedin_url,omitempty"`
	Custom      map[string]string `json:"custom,omitempty"` // nil when absent or empty
}

// User is the sequencer's user (the rep) who added the contact or sent the
// email; on contact.unsubscribed, the rep whose contact opted out. The
// service gives the Leads, Contacts and Tasks it creates to the active
// Salesforce user with this email (matched case-insensitively), else to the
// team's fallback (R10). Email keeps the case it was sent with.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// ContactRef is the contact as an email event carries it.
type ContactRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Message is the email an email event is about. URL is set only on
// email.clicked, Reason only on email.bounced.
type Message struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	BodyText string    `json:"body_text,omitempty"`
	Step     int       `json:"step"`
	SentAt   time.Time `json:"sent_at"` // UTC
	URL      string    `json:"url,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// ContactID is the sequencer's id of the contact the event is about.
func (e Event) ContactID() string {
	switch d := e.Data.(type) {
	case ContactData:
		return d.Contact.ID
	case EmailData:
		return d.Contact.ID
	}
	return ""
}

// Email is the email address of the contact the event is about.
func (e Event) Email() string {
	switch d := e.Data.(type) {
	case ContactData:
		return d.Contact.Email
	case EmailData:
		return d.Contact.Email
	}
	return ""
}

// SequenceID is the id of the event's sequence, "" for contact.created and
// contact.unsubscribed.
func (e Event) SequenceID() string {
	switch d := e.Data.(type) {
	case ContactData:
		if d.Sequence != nil {
			return d.Sequence.ID
		}
	case EmailData:
		return d.Sequence.ID
	}
	return ""
}

// User is the rep the event names (data.user), nil when it names none.
func (e Event) User() *User {
	switch d := e.Data.(type) {
	case ContactData:
		return d.User
	case EmailData:
		return d.User
	}
	return nil
}
