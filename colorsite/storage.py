"""
The media folder's storage: Django's FileSystemStorage, except that every file is written under
a temporary name in its own folder and linked into place only once it is whole.

A write cut short (a full disk, a worker killed in the middle of a result) then leaves nothing
under the file's real name, and its partial file is removed at once; a reader never sees half a
result, and no job has to know which of its files got half written. Linking (not renaming)
keeps FileSystemStorage's promise never to replace a file of the same name: a taken name gets
another one, as Django's storages do.
"""

import os
import secrets

from django.core.files.storage import FileSystemStorage


class AtomicFileSystemStorage(FileSystemStorage):
    def _save(self, name, content):
        folder, base = os.path.split(name)
        partial = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.partial")
        try:
            partial = super()._save(partial, content)
            while True:
                try:
                    os.link(self.path(partial), self.path(name))
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
        finally:
            try:
                os.unlink(self.path(partial))
            except FileNotFoundError:  # never created: the folder could not be made
                pass
        return name.replace("\\", "/")
