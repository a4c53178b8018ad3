import { filesFromDrop, takePickedFiles } from './dropFiles.ts';

/**
 * A drop zone's state and handlers: files dropped (plain files, zips, whole folders) or picked in a file input go to
 * `take`. Only drags that carry files highlight the zone, so dragging text or a face thumbnail over it does nothing.
 */
export class DropZone {
  dragging = $state(false);

  constructor(private readonly take: (files: File[]) => unknown) {}

  ondragover = (e: DragEvent): void => {
    if (e.dataTransfer && !e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    this.dragging = true;
  };

  ondragleave = (): void => {
    this.dragging = false;
  };

  ondrop = async (e: DragEvent): Promise<void> => {
    e.preventDefault();
    this.dragging = false;
    if (!e.dataTransfer) return;
    const files = await filesFromDrop(e.dataTransfer);
    if (files.length) await this.take(files);
  };

  onpick = async (e: Event): Promise<void> => {
    const files = takePickedFiles(e);
    if (files.length) await this.take(files);
  };
}
