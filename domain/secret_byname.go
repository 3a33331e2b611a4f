package domain

// SecretNameStreams are the reservation streams that may hold name: the
// folded one every secret created since names were folded reserves, and,
// for a name given with capitals, the stream of the name as given, which a
// secret created before folding reserved.
func SecretNameStreams(name string) ([]string, error) {
	if err := ValidateSecretName(name); err != nil {
		return nil, err
	}
	folded := FoldName(name)
	out := []string{SecretNameReservationStream(folded)}
	if folded != name {
		out = append(out, StreamID(SecretNameAggregate, name))
	}
	return out, nil
}

// SecretIDOfReservation reads the secret id a name reservation stream
// holds; false when the stream is empty (the name was never taken).
func SecretIDOfReservation(events []RecordedEvent) (string, bool, error) {
	for _, ev := range events {
		payload, err := secretNameRegistry().decode(ev)
		if err != nil {
			return "", false, WrapError(EINTERNAL, "decode secret name reservation", err)
		}
		if e, ok := payload.(SecretNameReserved); ok && e.SecretID != "" {
			return e.SecretID, true, nil
		}
	}
	return "", false, nil
}
