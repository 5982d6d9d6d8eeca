// An inline error under a form, in friendly words.
export function ErrorNote({ text, testId }: { text: string | null; testId: string }) {
  if (!text) return null;
  return (
    <p className="error-note" role="alert" data-testid={testId}>
      <span aria-hidden="true">⚠</span> {text}
    </p>
  );
}
