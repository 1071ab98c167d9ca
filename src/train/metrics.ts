/**
 * metrics.jsonl as an append-only log whose size is part of every checkpoint: a resume truncates the
 * file back to the size recorded in the checkpoint it starts from, so lines written after that
 * checkpoint (a partial last line of a killed write included) are dropped and replayed, never
 * duplicated. The file is fsynced before each checkpoint, so a checkpoint never records more lines
 * than the disk holds.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { diskError, writeAll } from '../util/atomic.js';
import { inTheWayError } from '../util/errors.js';

export class MetricsLog {
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    private size: number,
  ) {}

  /**
   * Opens (creates) the log. `truncateTo`: the size recorded by the checkpoint a run resumes from; a
   * shorter file (lines lost outside fsrgan) is kept as it is, with a warning.
   */
  static async open(file: string, truncateTo?: number, warn: (line: string) => void = console.warn): Promise<MetricsLog> {
    const fh = await open(file, 'a+').catch((e) => {
      throw inTheWayError(e, file, 'the metrics log', 'run the command again');
    });
    try {
      let size = (await fh.stat()).size;
      if (truncateTo !== undefined && size > truncateTo) {
        await fh.truncate(truncateTo);
        await fh.sync();
        size = truncateTo;
      } else if (truncateTo !== undefined && size < truncateTo) {
        warn(`${file} has ${size} bytes, fewer than the ${truncateTo} recorded in the checkpoint: some metrics lines were lost.`);
        // The file was cut outside fsrgan, maybe inside a line: drop the partial last line, so that the
        // lines appended next start on a line of their own and every line stays valid JSON.
        const complete = await lastNewline(fh, size);
        if (complete < size) {
          await fh.truncate(complete);
          await fh.sync();
          size = complete;
        }
      }
      return new MetricsLog(file, fh, size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Bytes in the file (what a checkpoint records). */
  get bytes(): number {
    return this.size;
  }

  async append(line: Record<string, unknown>): Promise<void> {
    const text = JSON.stringify(line) + '\n';
    try {
      await writeAll(this.fh, text);
    } catch (e) {
      throw diskError(e, `cannot append to ${this.file}`, 'The run stopped; its checkpoints are intact (a resume drops the partial line).', `resume with: fsrgan train --resume ${dirname(this.file)}`);
    }
    this.size += Buffer.byteLength(text);
  }

  /** Drops everything after `bytes` (a rollback to a checkpoint). */
  async truncate(bytes: number): Promise<void> {
    await this.fh.truncate(Math.min(bytes, this.size));
    this.size = Math.min(bytes, this.size);
  }

  async sync(): Promise<void> {
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** The size of the file's longest prefix that ends with a newline (0 when none does). */
async function lastNewline(fh: FileHandle, size: number): Promise<number> {
  const chunk = 65536;
  for (let end = size; end > 0; end -= chunk) {
    const start = Math.max(0, end - chunk);
    const buf = Buffer.alloc(end - start);
    await fh.read(buf, 0, buf.length, start);
    const i = buf.lastIndexOf(0x0a);
    if (i >= 0) return start + i + 1;
  }
  return 0;
}
