// Create a topic (name, optional description); the gateway's refusal shown inline.
import { useState, type FormEvent } from 'react';
import type { Topic } from '@notify/lib/rpc';
import { friendlyError } from '../api/errors.ts';
import { ErrorNote } from './ErrorNote.tsx';

export function TopicCreateForm({ onCreate }: { onCreate: (name: string, description: string) => Promise<Topic> }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onCreate(name, description);
      setName('');
      setDescription('');
    } catch (failure) {
      setError(friendlyError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="create-topic" onSubmit={(event) => void submit(event)} data-testid="topic-create-form">
      <div className="create-topic-fields">
        <input value={name} onChange={(event) => setName(event.target.value)} required maxLength={100} placeholder="New topic name" aria-label="Topic name" data-testid="topic-create-name" />
        <input value={description} onChange={(event) => setDescription(event.target.value)} maxLength={1000} placeholder="Description (optional)" aria-label="Topic description" data-testid="topic-create-description" />
        <button type="submit" className="button button-primary" disabled={busy || !name.trim()} data-testid="topic-create-submit">
          {busy ? 'Creating…' : 'Create topic'}
        </button>
      </div>
      <ErrorNote text={error} testId="topic-create-error" />
    </form>
  );
}
