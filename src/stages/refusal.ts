// A stage refusing its input for a reason no retry changes: nothing maps to a required field, a snapshot that
// is not whole may delete nothing. The activity around the stage turns it into a failure Temporal does not
// retry, typed by `name`.
export class Refusal extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}
